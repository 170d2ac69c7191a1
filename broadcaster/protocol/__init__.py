"""Wire format shared by the station and the village agent (stdlib + cryptography only).

Both sides import this package; it must never import anything from the server side.
"""
