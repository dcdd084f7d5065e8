# frozen_string_literal: true

# Redis list as a queue (`redis`, schemas/json_transports.md), with the
# redis gem. --address is REDIS_URL#PREFIX, REDIS_URL being
# unix:///path/redis.sock or redis://127.0.0.1:6379; only keys under PREFIX
# are touched.
#
#   harness: LPUSH PREFIX:requests <request>     (request has reply_to)
#   peer:    BRPOP PREFIX:requests 1, computes, LPUSH <reply_to> <reply>
#   --echo:  BRPOP PREFIX:requests 1, LPUSH PREFIX:echo <the same bytes>
#            (reply_to is inside the JSON, which echo does not read)
#   --inflight=K above 1: BLMPOP 1 1 PREFIX:requests RIGHT COUNT K takes up
#            to K at once, and their replies go out with the next BLMPOP, in
#            one pipeline
#
# The 1 s BRPOP timeout is how SIGTERM/SIGINT is noticed: the signal sets a
# flag, checked between waits (exit 0 within ~1 s). Garbage gets an error
# reply on its reply_to when one can be read, else one line on stderr and is
# dropped; the peer keeps serving. The shared parts (address, connection,
# answering one request in the row's codec) are here; redis_stream.rb
# reuses them.
#
# --codec (json_transports.md, "Other codecs on Redis and files"):
#   json (default)  a JSON request with reply_to; its JSON reply to reply_to
#   raw             a value is one raw frame (header and payload), answered as
#                   on a stream (single calls, batches, even JSON / protobuf
#                   frames); the reply, one frame, goes to PREFIX:replies
#   protobuf        a value is one serialized interop.v1.Request; the
#                   serialized Reply goes to PREFIX:replies
# Raw frames and protobuf messages carry no reply_to: one client per row
# reads the fixed list PREFIX:replies. A value that cannot be answered gets
# its codec's error reply when its id is known (a raw frame's header id, a
# decoded Request's own), else one line on stderr and no reply. Echo is the
# same for every codec: the bytes, unread, to PREFIX:echo.
#
# A Redis value is read whole by redis-rb before it can be looked at (the
# protocol gives its length first, and the server bounds it at 512 MB): the
# codec's bounds are checked on the value (MessageAnswer, ProtobufMessage).

require "redis"
require_relative "../json_message"
require_relative "../message_answer"

module Transports
  module RedisList
    BLOCK_SECONDS = 1

    module_function

    # "REDIS_URL#PREFIX" -> [url, prefix]
    def parse_address(address)
      url, sep, prefix = address.to_s.rpartition("#")
      unless sep == "#" && !prefix.empty? && url.match?(%r{\A(unix|redis)://.+})
        raise ArgumentError, "redis: --address must be REDIS_URL#PREFIX with REDIS_URL " \
                             "unix:///path/redis.sock or redis://HOST:PORT, got #{address.inspect}"
      end

      [url, prefix]
    end

    def connect(url)
      redis = ::Redis.new(url: url, connect_timeout: 5, read_timeout: 5, write_timeout: 5)
      redis.ping
      redis
    end

    # SIGTERM/SIGINT set the returned flag (checked between waits).
    def stop_flag
      flag = [false]
      %w[TERM INT].each { |sig| Signal.trap(sig) { flag[0] = true } }
      flag
    end

    def log(message)
      RawFrame.log_line($stderr, message)
    end

    # [reply_to, reply body] for one queued request, or nil when it has to
    # be dropped (no usable reply_to). Never raises for bad input.
    def answer(raw, prefix)
      begin
        msg = JsonMessage.decode(raw.to_s)
      rescue JsonMessage::MessageError => e
        log("dropped a request without a readable reply_to: #{e.message[0, 200]}")
        return nil
      end
      reply_to = msg["reply_to"]
      unless reply_to.is_a?(String) && reply_to.start_with?(prefix) && reply_to.valid_encoding?
        log("dropped a request (id #{JsonMessage.request_id(msg).inspect}): " \
            "reply_to must be a key under #{prefix}, got #{reply_to.inspect[0, 200]}")
        return nil
      end
      begin
        [reply_to, JsonMessage.answer(msg)]
      rescue JsonMessage::MessageError => e
        id = JsonMessage.request_id(msg)
        log("bad request (id #{id.inspect}): #{e.message}")
        [reply_to, JsonMessage.error_reply(id, e.message)]
      end
    rescue StandardError => e # a bug costs one request, never the peer
      log("internal error on a request: #{e.class}: #{e.message}")
      nil
    end

    # What answers one popped value in the row's codec: a callable giving
    # [list to push the reply to, reply bytes], or nil when there is nothing
    # to push. Never raises for bad input.
    def answerer(codec, prefix)
      return ->(raw) { answer(raw, prefix) } if codec == "json"

      replies = "#{prefix}:replies"
      lambda do |value|
        reply = MessageAnswer.answer(codec, value, nil)
        reply && [replies, reply]
      rescue StandardError => e # a bug costs one request, never the peer
        log("internal error on a request: #{e.class}: #{e.message}")
        nil
      end
    end

    def run(opts)
      url, prefix = parse_address(opts.address)
      stop = stop_flag
      answer = answerer(opts.codec || "json", prefix)
      redis = connect(url)
      queue = "#{prefix}:requests"
      opts.ready(opts.address)
      if opts.inflight > 1
        serve_batches(redis, queue, answer, opts.echo ? "#{prefix}:echo" : nil, opts.inflight, stop)
      elsif opts.echo
        serve_echo(redis, queue, "#{prefix}:echo", stop)
      else
        serve(redis, queue, answer, stop)
      end
      0
    ensure
      redis&.close
    end

    def serve(redis, queue, answer, stop)
      until stop[0]
        _key, raw = redis.brpop(queue, timeout: BLOCK_SECONDS)
        next if raw.nil?

        reply_to, body = answer.call(raw)
        redis.lpush(reply_to, body) if reply_to
      end
    end

    # With calls in flight (--inflight=K above 1): the replies of one batch go
    # out in one pipeline with the pop of the next, BLMPOP (Redis 7; redis-rb
    # 4.8 has no method for it), which takes as many as are queued, up to K,
    # and waits (1 s at most) only when none are. Under load, one round trip
    # per batch. With echo_list, each request's bytes go back unread, as in
    # serve_echo.
    def serve_batches(redis, queue, answer, echo_list, inflight, stop)
      replies = []
      until stop[0]
        got = redis.pipelined do |p|
          replies.each { |to, body| p.lpush(to, body) }
          p.call("BLMPOP", BLOCK_SECONDS, 1, queue, "RIGHT", "COUNT", inflight)
        end.last
        replies = []
        raws = got.is_a?(Array) ? got[1] : [] # [key, [request, ...]], or nil after the wait
        raws.each do |raw|
          if echo_list
            replies << [echo_list, raw]
          else
            reply_to, body = answer.call(raw)
            replies << [reply_to, body] if reply_to
          end
        end
      end
    end

    def serve_echo(redis, queue, echo_list, stop)
      until stop[0]
        _key, raw = redis.brpop(queue, timeout: BLOCK_SECONDS)
        redis.lpush(echo_list, raw) unless raw.nil?
      end
    end
  end
end
