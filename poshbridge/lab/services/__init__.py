"""The lab's services (Pebble, DNS, OCSP, IIS sites, the daemon that composes them)."""

# The most twins one lab runs (`lab up --hosts N`): 200 for the fleet-scale figures of issue 11, with room.
MAX_HOSTS = 250
