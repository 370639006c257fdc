/* What the server and the client share inside http/. */
#ifndef TESSERA_HTTP_INTERNAL_H
#define TESSERA_HTTP_INTERNAL_H

#include "http.h"

/* A fresh response: 200, no headers, no body. */
void http__response_init(struct http_response *r);
/* Calls the body's release function, once, and forgets the body. */
void http__response_release(struct http_response *r);

#endif
