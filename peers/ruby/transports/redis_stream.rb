# frozen_string_literal: true

# Redis Streams (`redis-stream`, schemas/json_transports.md): the durable
# variant of redis_list.rb, with the same address, bounds and bad input.
#
#   peer, at start: XGROUP CREATE PREFIX:stream workers $ MKSTREAM
#                   (BUSYGROUP: the group exists, fine)
#   harness:        XADD PREFIX:stream MAXLEN ~ 10000 * req <request>
#   peer:           XREADGROUP GROUP workers ruby BLOCK 1000 COUNT 1 STREAMS PREFIX:stream >
#                   computes, then in one round trip LPUSH <reply_to> <reply>,
#                   XACK PREFIX:stream workers <entry-id>, XDEL PREFIX:stream <entry-id>
#   --echo:         the same, but LPUSH PREFIX:echo <the entry's req field>
#                   instead of computing (the JSON is not read)

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
      redis = RedisList.connect(url)
      stream = "#{prefix}:stream"
      echo_list = opts.echo ? "#{prefix}:echo" : nil
      create_group(redis, stream)
      opts.ready(opts.address)
      until stop[0]
        got = redis.xreadgroup(GROUP, CONSUMER, stream, ">", block: BLOCK_MS, count: 1)
        (got[stream] || []).each { |entry_id, fields| serve(redis, prefix, stream, entry_id, fields, echo_list) }
      end
      0
    ensure
      redis&.close
    end

    # One entry: its reply (or, with echo_list, its req bytes) pushed, then
    # acknowledged and deleted, in one round trip.
    def serve(redis, prefix, stream, entry_id, fields, echo_list)
      raw = fields.is_a?(Hash) ? fields["req"] : nil
      if raw.nil?
        RedisList.log("stream entry #{entry_id} has no req field; dropped")
      elsif echo_list
        reply_to = echo_list
        body = raw
      else
        reply_to, body = RedisList.answer(raw, prefix)
      end
      redis.pipelined do |p|
        p.lpush(reply_to, body) if reply_to
        p.xack(stream, GROUP, entry_id)
        p.xdel(stream, entry_id)
      end
    end
  end
end
