/* pjproject build settings for the PBX appliance: a PBX needs many calls at once
 * (a ring group of five phones is six legs), so lift pjsua's small defaults. */
#define PJSUA_MAX_CALLS          256
#define PJSUA_MAX_PLAYERS        256
#define PJSUA_MAX_RECORDERS      256
#define PJSUA_MAX_CONF_PORTS     1024
#define PJ_IOQUEUE_MAX_HANDLES   1024
#define PJSUA_MAX_ACC            32
#define PJ_LOG_MAX_LEVEL         5
