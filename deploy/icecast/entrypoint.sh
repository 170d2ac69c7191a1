#!/bin/sh
# Write Icecast's config from the template with the passwords of the environment, then run Icecast in the
# foreground. Icecast's XML config cannot read environment variables itself.
#   ICECAST_SOURCE_PASSWORD (required): what the stream hub pushes with (LOA_STREAM_ICECAST_SOURCE_URL)
#   ICECAST_ADMIN_PASSWORD  (required): Icecast's own admin pages
#   ICECAST_HOSTNAME        (optional): the public host name Icecast puts in its listings
#   ICECAST_TEMPLATE, ICECAST_CONFIG: where the template is and where the config goes (tests move them)
set -eu
: "${ICECAST_SOURCE_PASSWORD:?ICECAST_SOURCE_PASSWORD is required (the stream hub's source password)}"
: "${ICECAST_ADMIN_PASSWORD:?ICECAST_ADMIN_PASSWORD is required}"
template="${ICECAST_TEMPLATE:-/etc/icecast2/icecast.xml.in}"
config="${ICECAST_CONFIG:-/run/icecast2/icecast.xml}"
# escape what sed and XML would read specially in a password: & \ | < > "
esc() { printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g' \
                              -e 's/[\\|&]/\\&/g'; }
sed -e "s|@SOURCE_PASSWORD@|$(esc "$ICECAST_SOURCE_PASSWORD")|g" \
    -e "s|@ADMIN_PASSWORD@|$(esc "$ICECAST_ADMIN_PASSWORD")|g" \
    -e "s|@HOSTNAME@|$(esc "${ICECAST_HOSTNAME:-localhost}")|g" "$template" > "$config"
chmod 0600 "$config"
exec icecast2 -c "$config"
