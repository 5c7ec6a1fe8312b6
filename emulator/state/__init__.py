"""The emulated appliance's state by domain, the parts `emulator.dataset.Dataset` is made of."""
