/* Reads a frame header (REQ-FRM-1). */
int a(void);
