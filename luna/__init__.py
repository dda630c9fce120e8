"""The ``luna`` tool: the command line around the services (``luna up``, ``tap``, ``models``, ...).

Why a package of its own beside ``services/`` and ``shared/``: it is not code the
services share. It starts and watches them, speaks on the bus like a person, fetches
models and reads logs; it may import a service (the router), which ``shared/`` never may.
"""
