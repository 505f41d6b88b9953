// Package pages holds the full pages that belong to neither portal: the
// error page, the landing page at / and the invitation page. The admin and
// customer portals' pages live in the admin and portal subpackages.
package pages
