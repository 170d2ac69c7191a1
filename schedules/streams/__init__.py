"""Relay streams (issue 14): the list of radio streams a commune may relay (VOV1, the provincial station), kept
by the system admin, picked in the schedule form, and listened to through the station before saving."""
