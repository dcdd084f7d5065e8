// The C++ peer's answer to one message that stands alone (a Redis value, a
// file), in the row's codec (json_transports.md, "Other codecs on Redis and
// files"): a JSON request, a raw frame, or a serialized interop.v1.Request.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "transports/transport.h"

namespace interop {

struct MessageAnswer {
  std::string reply;      // the reply message in the same codec
  std::size_t calls = 0;  // the calls answered (0: refused whole)
  std::string error;      // why it was refused (for the peer's log), or ""
  std::string reply_to;   // JSON over Redis: the request's reply list, if it named one
  // Raw and protobuf: the message's id could be read (a raw frame's header,
  // a Request that parsed). Where no name carries the id (Redis), a reply to
  // an unknown id is dropped, with a line on stderr. (JSON's error reply
  // says "id": null to its reply_to instead.)
  bool id_known = true;
};

// `fallback_id` answers a message that has no readable id of its own (a
// file's name gives it; Redis has none); `want_reply_to` reads JSON's reply_to.
MessageAnswer AnswerMessage(Codec codec, std::string_view message, std::optional<uint64_t> fallback_id,
                            bool want_reply_to = false);

}  // namespace interop
