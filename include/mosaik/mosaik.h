/* mosaik/mosaik.h — umbrella header: include this to get the whole public API. */
#ifndef MOSAIK_MOSAIK_H
#define MOSAIK_MOSAIK_H

#include "mosaik/core.h"
#include "mosaik/id.h"
#include "mosaik/network.h"
#include "mosaik/metrics.h"
#include "mosaik/config.h"
#include "mosaik/tickets.h"
#include "mosaik/discovery.h"
#include "mosaik/streams.h"
#include "mosaik/groups.h"

#endif
