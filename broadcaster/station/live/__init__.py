"""Live speech from a cadre's phone (issue 15): the session row and its audit, the stream hub mount it feeds, the
signed `live` command that puts it on the chosen loudspeakers, the watchdog that ends it when the phone goes
quiet, and the recording kept in the content store (publishable to the library later)."""
