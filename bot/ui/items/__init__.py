"""The persistent buttons and forms."""
