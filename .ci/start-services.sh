#!/usr/bin/env bash
# Starts the servers the store tests use (PostgreSQL, MariaDB, Redis) when they are not already
# up, then waits until each answers. CI containers have no systemd, so each is started directly.
# Idempotent; needs root (CI runs as root). Ports: the defaults the tests use (test/store/_dialects.ts).
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
mariadb_up() { mariadb-admin --protocol=tcp -h 127.0.0.1 -P 3306 -u root --silent ping >/dev/null 2>&1; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]; }

# wait_for NAME CHECK: polls CHECK for up to 60 s.
wait_for() {
  for _ in $(seq 120); do
    if "$2"; then
      echo "$1: up"
      return 0
    fi
    sleep 0.5
  done
  echo "$1: not answering after 60 s" >&2
  return 1
}

if ! pg_up; then
  echo "postgresql: starting"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi
if ! mariadb_up; then
  echo "mariadb: starting"
  install -d -o mysql -g mysql /run/mysqld
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi
if ! redis_up; then
  echo "redis: starting"
  install -d /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
wait_for postgresql pg_up
wait_for mariadb mariadb_up
wait_for redis redis_up
