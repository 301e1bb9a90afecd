"""The `newsbot` command: the command table (`main`) and the commands that need more than a few lines."""
