"""Use cases over the domain, talking to the world only through the ports in services/ports/."""
