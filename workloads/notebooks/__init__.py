"""Code that runs on a notebook instance: the idle auto-stop its lifecycle config installs."""
