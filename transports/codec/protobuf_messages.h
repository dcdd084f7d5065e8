// The protobuf codec (schemas/interop.proto) on both sides: the harness's
// Request to an interop.v1 message and a reply message back into a Reply;
// the peer's answer to a request message. Shared by the gRPC tier and every
// tier that carries opaque bytes with --codec=protobuf.
#pragma once

#include <string>

#include "interop.pb.h"
#include "transports/transport.h"

namespace interop::protobuf_codec {

namespace pb = ::interop::v1;

// The harness side.
void ToProto(const Request& r, pb::AddRequest* out);
void ToProto(const Request& r, pb::ScoreRequest* out);
void ToProto(const Request& r, pb::BatchRequest* out);  // items carry no ids (their place is their identity)
void ToProto(const Request& r, pb::Request* out);       // one call, or a batch
// A reply message, or a batch reply, into a reset Reply (its id too).
void FromProto(const pb::Reply& in, Reply& out);
void FromProto(const pb::BatchReply& in, Reply& out);

// The peer side. Empty when a score request is within the contract's bounds.
std::string CheckScore(const pb::ScoreRequest& r);
// Empty when a batch may be answered item by item (1 to 100,000 items).
std::string CheckBatch(const pb::BatchRequest& b);
// A checked score request's reply: its id, score and label.
void Compute(const pb::ScoreRequest& req, pb::ScoreReply* rep);
// One call of a stream or a batch into `rep`: add, score, or an error for
// anything else (its id left to the caller).
void AnswerCall(const pb::Request& req, pb::Reply* rep);
// A batch's replies, item i answering item i.
void AnswerBatch(const pb::BatchRequest& req, pb::BatchReply* rep);

// A serialized Request answered as a serialized Reply (the tiers that carry
// bytes): a message that does not parse gets an error Reply with
// `fallback_id`. Returns the calls it carried (0 when refused whole), and
// says in `parsed` (if given) whether the request parsed at all.
std::size_t AnswerMessage(std::string_view request, uint64_t fallback_id, std::string* reply,
                          bool* parsed = nullptr);

}  // namespace interop::protobuf_codec
