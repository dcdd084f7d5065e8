# frozen_string_literal: true

# Redis Streams (`redis-stream`, schemas/json_transports.md): the durable
# variant of redis_list.rb, with the same address, bounds and bad input.
#
#   peer, at start: XGROUP CREATE PREFIX:stream workers $ MKSTREAM
#                   (BUSYGROUP: the group exists, fine)
#   harness:        XADD PREFIX:stream MAXLEN ~ 10000 * req <request>
#   peer:           XREADGROUP GROUP workers ruby BLOCK 1000 COUNT K STREAMS PREFIX:stream >
#                   (K from --inflight, 1 without calls in flight)
#                   computes, then in one round trip for the batch LPUSH <reply_to> <reply>,
#                   XACK PREFIX:stream workers <entry-id>, XDEL PREFIX:stream <entry-id>
#   --echo:         the same, but LPUSH PREFIX:echo <the entry's req field>
#                   instead of computing (the JSON is not read)
#   --codec=raw / protobuf: the req field is one raw frame / serialized
#                   Request, its reply pushed to PREFIX:replies (redis_list.rb)

require_relative "redis_list"

module Transports
  module RedisStream
    GROUP = "workers"
    CONSUMER = "ruby"
    BLOCK_MS = 1000

    module_function

    def create_group(redis, stream)
      redis.xgroup(:create, stream, GROUP, "$", mkstream: true)
    rescue ::Redis::CommandError => e
      raise unless e.message.include?("BUSYGROUP")
    end

    def run(opts)
      url, prefix = RedisList.parse_address(opts.address)
      stop = RedisList.stop_flag
      answer = RedisList.answerer(opts.codec || "json", prefix)
      redis = RedisList.connect(url)
      stream = "#{prefix}:stream"
      echo_list = opts.echo ? "#{prefix}:echo" : nil
      create_group(redis, stream)
      opts.ready(opts.address)
      until stop[0]
        # Up to K entries at once under load (--inflight=K), one without.
        got = redis.xreadgroup(GROUP, CONSUMER, stream, ">", block: BLOCK_MS, count: opts.inflight)
        entries = got[stream] || []
        next if entries.empty?

        # Every entry's reply pushed, then acknowledged and deleted, in one round trip.
        pushes = entries.map { |entry_id, fields| [entry_id, reply(answer, entry_id, fields, echo_list)] }
        redis.pipelined do |p|
          pushes.each do |entry_id, (reply_to, body)|
            p.lpush(reply_to, body) if reply_to
            p.xack(stream, GROUP, entry_id)
            p.xdel(stream, entry_id)
          end
        end
      end
      0
    ensure
      redis&.close
    end

    # One entry's [reply_to, body]: its reply (or, with echo_list, its req
    # bytes); [nil, nil] when it has nothing to answer.
    def reply(answer, entry_id, fields, echo_list)
      raw = fields.is_a?(Hash) ? fields["req"] : nil
      if raw.nil?
        RedisList.log("stream entry #{entry_id} has no req field; dropped")
        [nil, nil]
      elsif echo_list
        [echo_list, raw]
      else
        answer.call(raw) || [nil, nil]
      end
    end
  end
end
