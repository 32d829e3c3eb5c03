"""The drill: the outside probes of issue 12 replayed against real servers, each bounded in time."""
