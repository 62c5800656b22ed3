#!/usr/bin/env bash
# Known starting passwords, so the tests can prove which ones still work.
# Its callers copy scripts/lib/poll.sh beside it.
set -euo pipefail
source "$(dirname "$0")/poll.sh"
mariadb --protocol=socket <<SQL
ALTER USER 'wikiuser'@'localhost' IDENTIFIED BY '${WIKI_DB_PASSWORD}';
CREATE USER IF NOT EXISTS 'backup'@'localhost' IDENTIFIED BY '${BACKUP_DB_PASSWORD}';
GRANT SELECT, LOCK TABLES ON wikidb.* TO 'backup'@'localhost';
SQL
sed -i "s|^\$wgDBpassword = .*|\$wgDBpassword = \"${WIKI_DB_PASSWORD}\";|" /etc/mediawiki/LocalSettings.php
cd /usr/share/mediawiki
php maintenance/createAndPromote.php --sysop Bob "${BOB_WIKI_PASSWORD}" >/dev/null
php maintenance/createAndPromote.php --sysop Dave "${DAVE_WIKI_PASSWORD}" >/dev/null
php maintenance/createAndPromote.php Carol "${CAROL_WIKI_PASSWORD}" >/dev/null
php maintenance/createAndPromote.php BobAtCustomer "${BOB_WIKI_PASSWORD}" >/dev/null
php maintenance/createAndPromote.php --sysop SLA-Admin "${ADMIN_WIKI_PASSWORD}" >/dev/null
# PHP's opcache serves the old LocalSettings.php until it revalidates the file
# (opcache.revalidate_freq), so the wiki needs a moment to use the new password.
poll_until 30 "the wiki's API after the database password change" \
  http_answers 200 'http://localhost/mediawiki/api.php?action=query&meta=siteinfo&format=json'
