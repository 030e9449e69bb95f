"""The sensor simulator: labelled synthetic email metadata from enterprise sensors."""
