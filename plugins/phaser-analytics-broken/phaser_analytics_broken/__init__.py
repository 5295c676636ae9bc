"""A plugin whose import fails, as a plugin with a missing dependency would."""

import phaser_analytics_missing_dependency  # noqa: F401
