/*
 * mosquitto_wal: a Mosquitto 2.0 plugin that appends every accepted PUBLISH to a
 * write-ahead log *before* the broker acknowledges it.
 *
 * Why: Mosquitto's own persistence is a periodic snapshot (autosave_interval), so the
 * messages it has PUBACKed and still holds in memory die with the process. Mosquitto
 * calls MOSQ_EVT_MESSAGE after the ACL check and before it stores the message and sends
 * the PUBACK (QoS 1) or PUBREC (QoS 2); the callback write()s the record to the log
 * first. A write() that returned is in the kernel's page cache and survives a SIGKILL of
 * the broker (not a power cut: see plugin_opt_sync_ms). If the write fails, the callback
 * fails, Mosquitto drops the client without an acknowledgement and the client resends.
 *
 * The log is read by the local rules engine (simulators/iot_core/service.py), which
 * deletes a segment once every record in it is delivered. The format is the one of
 * simulators/iot_core/wal.py, little-endian:
 *
 *   segment file  wal-<first seq, 20 digits>.log      (never appended to after a restart)
 *   record        <u32 body length><u32 crc32(body)> body
 *   body          <i64 arrival ms><u16 topic length> topic payload
 *
 * Options (mosquitto.conf, after `plugin <path to this .so>`):
 *   plugin_opt_dir <directory>          required; created (0770) if missing
 *   plugin_opt_segment_bytes <n>        start a new segment past n bytes (default 8 MiB)
 *   plugin_opt_segment_ms <n>           ... or when the segment is n ms old (default 1000)
 *   plugin_opt_sync_ms <n>              fdatasync at most every n ms (default 0: never;
 *                                       SIGKILL-safe without it, power-cut-safe with n>0
 *                                       up to the last n ms)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define FRAME_BYTES 8
#define HEAD_BYTES 10

static mosquitto_plugin_id_t *plugin_id;
static char wal_dir[3072];
static int fd = -1;
static uint64_t next_seq;
static uint64_t segment_first;
static uint64_t segment_size;
static int64_t segment_opened_ms;
static int64_t last_sync_ms;
static uint64_t max_segment_bytes = 8u * 1024 * 1024;
static int64_t max_segment_ms = 1000;
static int64_t sync_ms;
static uint32_t crc_table[256];

static void crc_init(void)
{
	for(uint32_t i = 0; i < 256; i++){
		uint32_t c = i;
		for(int k = 0; k < 8; k++){
			c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		}
		crc_table[i] = c;
	}
}

static uint32_t crc_update(uint32_t crc, const unsigned char *data, size_t len)
{
	crc = ~crc;
	for(size_t i = 0; i < len; i++){
		crc = crc_table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
	}
	return ~crc;
}

static void put_u16(unsigned char *p, uint16_t v) { p[0] = v & 0xFF; p[1] = v >> 8; }
static void put_u32(unsigned char *p, uint32_t v) { for(int i = 0; i < 4; i++) p[i] = (v >> (8 * i)) & 0xFF; }
static void put_u64(unsigned char *p, uint64_t v) { for(int i = 0; i < 8; i++) p[i] = (v >> (8 * i)) & 0xFF; }
static uint32_t get_u32(const unsigned char *p) { return p[0] | (p[1] << 8) | (p[2] << 16) | ((uint32_t)p[3] << 24); }

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fsync_dir(void)
{
	int dfd = open(wal_dir, O_RDONLY | O_DIRECTORY);
	if(dfd < 0) return -1;
	int rc = fsync(dfd);
	close(dfd);
	return rc;
}

/* Intact records at the start of a segment (a crash may have torn the last one). */
static uint64_t count_records(const char *path)
{
	FILE *f = fopen(path, "rb");
	if(!f) return 0;
	uint64_t count = 0;
	unsigned char frame[FRAME_BYTES];
	unsigned char *body = NULL;
	size_t body_cap = 0;
	while(fread(frame, 1, FRAME_BYTES, f) == FRAME_BYTES){
		uint32_t len = get_u32(frame), crc = get_u32(frame + 4);
		if(len < HEAD_BYTES) break;
		if(len > body_cap){
			unsigned char *grown = realloc(body, len);
			if(!grown) break;
			body = grown;
			body_cap = len;
		}
		if(fread(body, 1, len, f) != len || crc_update(0, body, len) != crc) break;
		count++;
	}
	free(body);
	fclose(f);
	return count;
}

/* Continue the sequence after the newest segment left by an earlier run. */
static int find_next_seq(void)
{
	DIR *d = opendir(wal_dir);
	if(!d) return -1;
	struct dirent *e;
	int found = 0;
	uint64_t newest = 0;
	while((e = readdir(d))){
		unsigned long long first;
		char tail[8];
		if(sscanf(e->d_name, "wal-%20llu.%7s", &first, tail) == 2 && strcmp(tail, "log") == 0){
			if(!found || first > newest) newest = first;
			found = 1;
		}
	}
	closedir(d);
	next_seq = 0;
	if(found){
		char path[4096];
		snprintf(path, sizeof(path), "%s/wal-%020llu.log", wal_dir, (unsigned long long)newest);
		next_seq = newest + count_records(path);
	}
	return 0;
}

static int open_segment(void)
{
	char path[4096];
	if(fd >= 0){
		close(fd);
		fd = -1;
	}
	snprintf(path, sizeof(path), "%s/wal-%020llu.log", wal_dir, (unsigned long long)next_seq);
	/* A segment of this name holds no intact record (the count said so): start it over. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0660);
	if(fd < 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "mosquitto_wal: cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	fchmod(fd, 0660); /* the engine (same group) reads and deletes it */
	segment_first = next_seq;
	segment_size = 0;
	segment_opened_ms = now_ms();
	fsync_dir();
	return 0;
}

/* mkdir -p, the last component 0770 (the engine, same group, deletes segments in it). */
static int make_dirs(const char *path)
{
	char buf[sizeof(wal_dir)];
	snprintf(buf, sizeof(buf), "%s", path);
	for(char *p = buf + 1; *p; p++){
		if(*p == '/'){
			*p = '\0';
			if(mkdir(buf, 0755) && errno != EEXIST) return -1;
			*p = '/';
		}
	}
	if(mkdir(buf, 0770) && errno != EEXIST) return -1;
	return chmod(buf, 0770) && errno != EPERM ? -1 : 0;
}

static int write_all(const struct iovec *iov_in, int count)
{
	struct iovec iov[3];
	memcpy(iov, iov_in, sizeof(struct iovec) * count);
	int i = 0;
	while(i < count){
		ssize_t n = writev(fd, iov + i, count - i);
		if(n < 0){
			if(errno == EINTR) continue;
			return -1;
		}
		while(i < count && (size_t)n >= iov[i].iov_len){
			n -= iov[i].iov_len;
			i++;
		}
		if(i < count){
			iov[i].iov_base = (char *)iov[i].iov_base + n;
			iov[i].iov_len -= n;
		}
	}
	return 0;
}

static int on_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *msg = event_data;
	(void)event;
	(void)userdata;
	size_t topic_len = strlen(msg->topic);
	if(topic_len > 0xFFFF) return MOSQ_ERR_INVAL;
	int64_t now = now_ms();
	if(fd < 0 || segment_size >= max_segment_bytes
			|| (segment_size > 0 && now - segment_opened_ms >= max_segment_ms)){
		if(open_segment()) return MOSQ_ERR_UNKNOWN;
	}
	unsigned char frame[FRAME_BYTES + HEAD_BYTES];
	uint32_t body_len = HEAD_BYTES + (uint32_t)topic_len + msg->payloadlen;
	put_u64(frame + FRAME_BYTES, (uint64_t)now);
	put_u16(frame + FRAME_BYTES + 8, (uint16_t)topic_len);
	uint32_t crc = crc_update(0, frame + FRAME_BYTES, HEAD_BYTES);
	crc = crc_update(crc, (const unsigned char *)msg->topic, topic_len);
	crc = crc_update(crc, msg->payload, msg->payloadlen);
	put_u32(frame, body_len);
	put_u32(frame + 4, crc);
	struct iovec iov[3] = {
		{frame, sizeof(frame)},
		{msg->topic, topic_len},
		{msg->payload, msg->payloadlen},
	};
	if(write_all(iov, msg->payloadlen ? 3 : 2)){
		mosquitto_log_printf(MOSQ_LOG_ERR, "mosquitto_wal: write failed (%s): refusing the message",
				strerror(errno));
		/* The segment may end in a torn record now: later records go to a new one. */
		close(fd);
		fd = -1;
		return MOSQ_ERR_UNKNOWN;
	}
	segment_size += FRAME_BYTES + body_len;
	next_seq++;
	if(sync_ms > 0 && now - last_sync_ms >= sync_ms){
		fdatasync(fd);
		last_sync_ms = now;
	}
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5) return 5;
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	plugin_id = identifier;
	wal_dir[0] = '\0';
	for(int i = 0; i < option_count; i++){
		if(!strcmp(options[i].key, "dir")){
			snprintf(wal_dir, sizeof(wal_dir), "%s", options[i].value);
		}else if(!strcmp(options[i].key, "segment_bytes")){
			max_segment_bytes = strtoull(options[i].value, NULL, 10);
		}else if(!strcmp(options[i].key, "segment_ms")){
			max_segment_ms = strtoll(options[i].value, NULL, 10);
		}else if(!strcmp(options[i].key, "sync_ms")){
			sync_ms = strtoll(options[i].value, NULL, 10);
		}
	}
	if(!wal_dir[0]){
		mosquitto_log_printf(MOSQ_LOG_ERR, "mosquitto_wal: plugin_opt_dir is required");
		return MOSQ_ERR_INVAL;
	}
	if(make_dirs(wal_dir)){
		mosquitto_log_printf(MOSQ_LOG_ERR, "mosquitto_wal: cannot create %s: %s", wal_dir, strerror(errno));
		return MOSQ_ERR_UNKNOWN;
	}
	crc_init();
	if(find_next_seq()){
		mosquitto_log_printf(MOSQ_LOG_ERR, "mosquitto_wal: cannot read %s: %s", wal_dir, strerror(errno));
		return MOSQ_ERR_UNKNOWN;
	}
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "mosquitto_wal: logging messages to %s from seq %llu",
			wal_dir, (unsigned long long)next_seq);
	return mosquitto_callback_register(plugin_id, MOSQ_EVT_MESSAGE, on_message, NULL, NULL);
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	(void)options;
	(void)option_count;
	if(fd >= 0){
		close(fd);
		fd = -1;
	}
	return mosquitto_callback_unregister(plugin_id, MOSQ_EVT_MESSAGE, on_message, NULL);
}
