"""The content library: announcements, recordings and their approval."""
