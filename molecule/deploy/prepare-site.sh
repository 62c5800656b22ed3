#!/usr/bin/env bash
# The site as the agency runs it: /var/www/site with shared/ (settings and
# uploads) and releases/ to come, served at /site. Its database password is
# the planted one, so the tests can prove it never leaks.
# Each host answers at its own URL, and production says so in its marker
# file, as the agency provisions it. Production gets a page and a person
# that a staging refresh must bring over, the person's data sanitised.
# Usage: prepare-site.sh <planted database password> <staging|production>
set -euo pipefail
planted=$1 environment=$2
site=/var/www/site
mkdir -p $site/shared $site/releases
if [ ! -f $site/shared/LocalSettings.php ]; then
  sed -e 's|^\$wgScriptPath = .*|$wgScriptPath = "/site";|' \
      -e "s|^\\\$wgServer = .*|\$wgServer = \"http://$environment.acme.example\";|" \
      -e "s|^\\\$wgDBpassword = .*|\$wgDBpassword = \"$planted\";|" \
      /etc/mediawiki/LocalSettings.php >$site/shared/LocalSettings.php
  chgrp www-data $site/shared/LocalSettings.php
  chmod 640 $site/shared/LocalSettings.php
  cp -a /var/lib/mediawiki/images $site/shared/images
  mariadb --protocol=socket -e "ALTER USER 'wikiuser'@'localhost' IDENTIFIED BY '$planted'"
  sed -i "s|^\\\$wgDBpassword = .*|\$wgDBpassword = \"$planted\";|" /etc/mediawiki/LocalSettings.php
fi
cat >/etc/apache2/conf-available/site.conf <<CONF
Alias /site $site/current
<Directory $site/>
	Options +FollowSymLinks
	AllowOverride None
	Require all granted
</Directory>
CONF
a2enconf -q site
systemctl reload apache2

mkdir -p /etc/twovalue-sla
if [ "$environment" = production ]; then
  echo production >/etc/twovalue-sla/environment
  if ! mariadb -N -e "SELECT 1 FROM wikidb.user WHERE user_name = 'Planted Person'" | grep -q 1; then
    cd /usr/share/mediawiki
    echo "Only production has this page; see http://production.acme.example/site/." |
      php maintenance/edit.php -q -b Production_Only_Page
    php maintenance/createAndPromote.php "Planted Person" PLANTED-person-password-7070 >/dev/null
    mariadb -e "UPDATE wikidb.user SET user_email = 'planted.person@customer.example',
      user_real_name = 'Planted Realname' WHERE user_name = 'Planted Person'"
  fi
fi
