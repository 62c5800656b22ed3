#!/usr/bin/env bash
# Known starting passwords, so the tests can prove which ones still work.
set -euo pipefail
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
code=$(curl -s -o /dev/null -w '%{http_code}' 'http://localhost/mediawiki/api.php?action=query&meta=siteinfo&format=json')
[ "$code" = 200 ] || { echo "wiki answered $code after the password change" >&2; exit 1; }
