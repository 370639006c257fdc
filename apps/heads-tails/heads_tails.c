/* heads-tails: two sleepers, one second and two seconds long. choose
 * reports the first to finish; join waits for both. */
#include "app.h"
#include "scheduler.h"

struct side {
    const struct app_devices *dev;
    const char *name;
};

static void *say(void *v, void *ctx)
{
    struct side *s = ctx;
    app_print(s->dev, "%s", s->name);
    return v;
}

static lwt_t *coin(const struct app_devices *dev, const char *name, uint64_t ns)
{
    struct side s = {dev, name};
    return lwt_map(sched_sleep(ns), say, LWT_CTX(s));
}

static lwt_t *both_done(void *v, void *ctx)
{
    (void)v;
    const struct app_devices *dev = *(const struct app_devices **)ctx;
    app_print(dev, "finished");
    return lwt_return(NULL);
}

static lwt_t *first_done(void *v, void *ctx)
{
    (void)v;
    lwt_t **both = ctx;
    return lwt_join(both, 2);
}

lwt_t *app_main(const struct app_devices *dev, int argc, char **argv)
{
    (void)argc, (void)argv;
    lwt_t *heads = coin(dev, "heads", SCHED_NS_PER_S);
    lwt_t *tails = coin(dev, "tails", 2 * SCHED_NS_PER_S);
    /* choose takes its own references; join gets the originals later. */
    lwt_t *race[2] = {lwt_ref(heads), lwt_ref(tails)};
    lwt_t *both[2] = {heads, tails};
    lwt_t *all = lwt_bind(lwt_choose(race, 2), first_done, LWT_CTX(both));
    return lwt_bind(all, both_done, LWT_CTX(dev));
}
