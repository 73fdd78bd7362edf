#!/bin/sh
# Creates lede's three streams and its durable consumer from the JSON files beside this script
# (the JetStream API's own config format, read by `nats ... add --config`), skipping any that
# already exist. Run by the provisioning Job (deploy/k8s/provision-job.yaml) and by the
# `nats-provision` service of docker-compose.yml; needs the `nats` CLI and NATS_URL.
# Changing an existing stream or consumer is deliberate work: `nats stream edit` / `nats
# consumer edit` with the same files.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
: "${NATS_URL:?set NATS_URL to the server, e.g. nats://nats:4222}"

for stream in ARTICLES ARTICLES_ENRICHED ARTICLES_DLQ; do
  if nats stream info "$stream" >/dev/null 2>&1; then
    echo "stream $stream exists"
  else
    nats stream add "$stream" --config "$dir/stream-$stream.json"
  fi
done

if nats consumer info ARTICLES lede >/dev/null 2>&1; then
  echo "consumer lede on ARTICLES exists"
else
  nats consumer add ARTICLES lede --config "$dir/consumer-lede.json"
fi
