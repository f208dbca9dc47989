/* secup-server admin. */
#ifndef SECUP_SERVER_ADMIN_H
#define SECUP_SERVER_ADMIN_H

#include "server.h"

/* argv[0] is "admin"; returns the exit status. */
int srv_admin(int argc, char **argv);

#endif /* SECUP_SERVER_ADMIN_H */
