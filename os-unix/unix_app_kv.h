/* The key/value store a Unix main gives an app (app_devices.kv): the
 * directory named by --kv-dir if there is one (so a site can be edited
 * without a rebuild), else the assets compiled into the image, else none.
 *
 * Compiled into each app's executable with its main, not into os_unix:
 * whether the image has assets (the weak symbol tessera_assets) and
 * whether the tree has the stores at all (TESSERA_HAVE_KV, set by the
 * build when kv/ is there) are properties of the executable.
 */
#ifndef TESSERA_UNIX_APP_KV_H
#define TESSERA_UNIX_APP_KV_H

struct kv;

/* dir: --kv-dir's value, or NULL. *out is the store, or NULL when the app
 * has none. 0, or a negative LWT_E* code (logged): the directory cannot be
 * used, or stores are not built into this tree and dir was given
 * (-LWT_ENOSYS). */
int unix_app_kv_open(const char *dir, struct kv **out);
/* Frees what unix_app_kv_open made; NULL is ignored. */
void unix_app_kv_close(struct kv *kv);

#endif
