/* The key/value store a Unix main gives an app (app_devices.kv): the
 * directory named by --kv-dir if there is one (so a site can be edited
 * without a rebuild), or the disk image named by --kv-disk (made by
 * tessera_kvimg, the files the Xen image reads from a virtual disk), else
 * the assets compiled into the image, else none.
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
/* The store on the disk image at path (kv/kv_disk.h, through a read-only
 * file device): 0, or the error (logged: a file that is not an image, or
 * a corrupt one, is -LWT_EBADMSG with the reason). Runs the loop until the
 * store is open. */
int unix_app_kv_open_disk(const char *path, struct kv **out);
/* Frees what unix_app_kv_open or unix_app_kv_open_disk made; NULL is
 * ignored. */
void unix_app_kv_close(struct kv *kv);

#endif
