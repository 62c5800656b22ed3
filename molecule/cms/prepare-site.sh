#!/usr/bin/env bash
# Turns Debian's MediaWiki on a test host into what agencies run: a release
# directory under /var/www/wiki with current -> releases/<version>, its own
# database, and a page written before any update. Then builds the release
# archives the scenario offers: the next patch release (only its version
# changed) and one whose update.php changes the database and fails.
# Usage: prepare-site.sh <planted database password>
set -euo pipefail
planted_db_password=$1
site=/var/www/wiki
version=$(sed -n "s/^define( 'MW_VERSION', '\(.*\)' );/\1/p" /usr/share/mediawiki/includes/Defines.php)
release=$site/releases/$version

if [ ! -L $site/current ]; then
  mkdir -p $site/releases
  cp -a --dereference /usr/share/mediawiki "$release"
  rm -rf "$release/config"
  chown -R www-data:www-data "$release/images"
  sed -i \
    -e 's|^\$wgScriptPath = .*|$wgScriptPath = "/wiki";|' \
    -e 's|^\$wgDBname = .*|$wgDBname = "wikisite";|' \
    -e "s|^\\\$wgDBpassword = .*|\$wgDBpassword = \"$planted_db_password\";|" \
    "$release/LocalSettings.php"
  mariadb --protocol=socket <<SQL
CREATE DATABASE wikisite CHARACTER SET binary;
GRANT ALL PRIVILEGES ON wikisite.* TO 'wikiuser'@'localhost';
ALTER USER 'wikiuser'@'localhost' IDENTIFIED BY '$planted_db_password';
SQL
  mariadb-dump --protocol=socket --single-transaction wikidb | mariadb --protocol=socket wikisite
  # The packaged wiki keeps working with the new password too.
  sed -i "s|^\\\$wgDBpassword = .*|\$wgDBpassword = \"$planted_db_password\";|" /etc/mediawiki/LocalSettings.php
  ln -s "releases/$version" $site/current
  cat >/etc/apache2/conf-available/wiki.conf <<CONF
Alias /wiki $site/current
<Directory $site/>
	Options +FollowSymLinks
	AllowOverride None
	Require all granted
</Directory>
CONF
  a2enconf -q wiki
  systemctl reload apache2
  (cd $site/current && echo "Written before any SLA update." | php maintenance/edit.php -q -b SLA_Test_Page)
fi

build() {  # build <version> <fault: yes|no>
  local target=$1 fault=$2 work
  # Same file system as the release: the copy is hard links, made in a moment.
  work=$(mktemp -d /var/www/.build.XXXXXX)
  cp -al "$release" "$work/mediawiki-$target"
  rm -rf "$work/mediawiki-$target/LocalSettings.php" "$work/mediawiki-$target/images"
  rm "$work/mediawiki-$target/includes/Defines.php"
  sed "s/define( 'MW_VERSION', '$version' );/define( 'MW_VERSION', '$target' );/" \
    "$release/includes/Defines.php" >"$work/mediawiki-$target/includes/Defines.php"
  if [ "$fault" = yes ]; then
    rm "$work/mediawiki-$target/maintenance/update.php"
    cat >"$work/mediawiki-$target/maintenance/update.php" <<'PHP'
<?php
// Injected fault: the schema update changes the database, then fails.
shell_exec( "mariadb --protocol=socket wikisite -e 'CREATE TABLE sla_fault_marker (id INT)'" );
fwrite( STDERR, "injected schema update failure\n" );
exit( 1 );
PHP
  fi
  tar -C "$work" -czf "/srv/releases/mediawiki-$target.tar.gz" "mediawiki-$target"
  rm -rf "$work"
}

mkdir -p /srv/releases
patch=${version##*.}
next="${version%.*}.$((patch + 1))"
fault="${version%.*}.$((patch + 2))"
[ -f "/srv/releases/mediawiki-$next.tar.gz" ] || build "$next" no
[ -f "/srv/releases/mediawiki-$fault.tar.gz" ] || build "$fault" yes
sum() { sha256sum "/srv/releases/mediawiki-$1.tar.gz" | cut -d' ' -f1; }
printf '{"next": {"version": "%s", "sha256": "%s"}, "fault": {"version": "%s", "sha256": "%s"}}\n' \
  "$next" "$(sum "$next")" "$fault" "$(sum "$fault")" >/srv/releases/offer.json
