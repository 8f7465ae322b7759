#!/bin/sh
# Mosquitto for deploy/compose.yaml: writes the services' password file (ingest's account) from
# the environment on every start, keeps the devices' one in the data volume, runs the broker.
# Add a device: docker compose exec mosquitto mosquitto_passwd -b /mosquitto/data/devices.passwd ID PASSWORD
#               docker compose kill -s HUP mosquitto
set -eu
conf=${MOSQUITTO_CONF:-/mosquitto/config/mosquitto.conf}
data=${MOSQUITTO_DATA:-/mosquitto/data}
: "${COLDCHAIN_MQTT_INGEST_PASSWORD:?the ingest account's password (set it in deploy/.env)}"
mkdir -p "$data"
for file in devices.passwd services.passwd; do
  [ -f "$data/$file" ] || { touch "$data/$file"; chmod 600 "$data/$file"; }
done
: > "$data/services.passwd"
mosquitto_passwd -b "$data/services.passwd" coldchain-ingest "$COLDCHAIN_MQTT_INGEST_PASSWORD"
# The broker drops to the mosquitto account (when there is one) and must still read its files.
if id mosquitto >/dev/null 2>&1; then chown -R mosquitto "$data"; fi
exec mosquitto -c "$conf"
