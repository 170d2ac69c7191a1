"""The web app: server-rendered pages for cadres and secretaries, and the public pages for residents."""
