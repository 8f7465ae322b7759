"""Development tooling, outside the services' runtime: the native local stack (`stack`), the
demo (`demo`) and the fleet simulator (`simulate`). The services never import this package;
it plugs its commands into `coldchain` through the `coldchain.commands` entry point."""
