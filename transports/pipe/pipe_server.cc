#include "transports/pipe/pipe_server.h"

#include <unistd.h>

#include "transports/raw_stream/raw_stream_server.h"

namespace interop {

int ServeStdioPipe(const PeerOptions& options) {
  AnnounceReady("-", options);
  return ServeRawStream(STDIN_FILENO, STDOUT_FILENO, options) ? 0 : 3;
}

}  // namespace interop
