"""Settings modules: ``base`` (development defaults), ``test`` (PostGIS + Redis), ``production``."""
