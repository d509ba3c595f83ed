"""The run's plumbing: the command line and its one-line errors (cli, errors), what a
command says (console), the OmegaConf resolvers, the help text, the loggers and the
results table."""
