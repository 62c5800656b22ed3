#!/usr/bin/env bash
# Runs inside the LAMP image's build container (systemd as PID 1): installs the
# stack from Debian 12 main and initialises Debian's MediaWiki against MariaDB.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# Copied beside this script by build-images.sh.
# shellcheck source=scripts/lib/poll.sh
. "$(dirname "$0")/poll.sh"

apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  apache2 libapache2-mod-php8.2 php8.2 php8.2-mysql php8.2-intl php8.2-mbstring \
  php8.2-xml php8.2-curl php8.2-apcu mariadb-server mediawiki curl needrestart >/dev/null 2>&1 \
  || { echo 'apt-get install of the LAMP stack failed' >&2; exit 1; }

systemctl enable --now mariadb apache2 >/dev/null 2>&1

# The database password is generated here, kept only in LocalSettings.php, and
# never printed; the wiki administrator's initial password is thrown away.
db_pass=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)
admin_pass=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)
mysql --protocol=socket <<SQL
CREATE DATABASE IF NOT EXISTS wikidb CHARACTER SET binary;
CREATE USER IF NOT EXISTS 'wikiuser'@'localhost' IDENTIFIED BY '${db_pass}';
GRANT ALL PRIVILEGES ON wikidb.* TO 'wikiuser'@'localhost';
SQL

rm -f /etc/mediawiki/LocalSettings.php
secrets=$(mktemp -d)
trap 'rm -rf "$secrets"' EXIT
(umask 077; printf '%s' "$db_pass" >"$secrets/db"; printf '%s' "$admin_pass" >"$secrets/admin")
php /usr/share/mediawiki/maintenance/install.php \
  --dbtype=mysql --dbserver=localhost --dbname=wikidb --dbuser=wikiuser \
  --dbpassfile="$secrets/db" --passfile="$secrets/admin" \
  --server=http://localhost --scriptpath=/mediawiki \
  --confpath=/etc/mediawiki "Demo Wiki" Admin >/dev/null
chmod 640 /etc/mediawiki/LocalSettings.php
chgrp www-data /etc/mediawiki/LocalSettings.php

# Apache and MariaDB were started moments ago: the wiki is asked until it answers.
poll_until 30 "MediaWiki's Main Page" http_answers 200 http://localhost/mediawiki/index.php/Main_Page
apt-get clean
# A clean shutdown before the image is committed: InnoDB files must not need
# crash recovery on every container start.
systemctl stop apache2 mariadb
