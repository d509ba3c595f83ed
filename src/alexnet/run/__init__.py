"""The command line: composing a task's config and validating it into the task's typed
spec (cli, options), the OmegaConf resolvers and the help text; a user's mistake as one
line and exit status 2."""
