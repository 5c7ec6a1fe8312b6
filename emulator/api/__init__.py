"""The signed API's handlers, one module per domain; emulator/routes.py maps each route to its handler."""
