"""The live layer: Channels consumers and groups that push changes to screens."""
