from phaser_analytics.cli import main

main()
