"""phaser-analytics: execution analytics for Phaser audits."""
