# frozen_string_literal: true

# File handoff (`file`, schemas/json_transports.md): --address is the private
# directory the harness made, `DIR` (wake-up by inotify, IN_MOVED_TO, with
# rb-inotify) or `DIR?wait=poll` (list the directory every 1 ms).
#
# For each `req-ID.json` (renamed into place by the harness): read it
# (bounded), delete it, compute, write `.rep-ID.json.tmp`, rename it to
# `rep-ID.json`. Files already there at start are served too. A request that
# cannot be parsed gets `{"id": ID, "error": "..."}` as its reply; a `req-*`
# file whose name carries no id is deleted and logged. Other names (the
# harness's own temporaries, replies) are never touched.
#
# With --echo each `req-ID.json` is renamed to `rep-ID.json` in the same
# directory: the request file is its own reply, nothing is read or written.
#
# --codec (json_transports.md, "Other codecs on Redis and files"): `json`
# (the default) is all of the above. With `raw` a request is `req-ID.raw`,
# one raw frame answered as on a stream (batches, and JSON / protobuf frames
# too), its reply `rep-ID.raw` one frame; with `protobuf` `req-ID.pb` is a
# serialized interop.v1.Request and `rep-ID.pb` the serialized Reply. Echo
# renames `req-ID.<ext>` to `rep-ID.<ext>` alike. Only names of the row's
# codec are taken: another codec's files are left alone. A request that
# cannot be answered gets its codec's error reply, with the id in its name
# when the content has none (a raw frame with a bad magic, a protobuf
# message that does not decode): a file's id is always known.
# Bounds before reading: MAX_JSON_BYTES for JSON, 24 + MAX_BATCH_PAYLOAD for
# a raw frame, MAX_BATCH_PAYLOAD for a protobuf message (MessageAnswer).
#
# SIGTERM/SIGINT wake the loop through a self-pipe: exit 0 between requests.

require_relative "../json_message"
require_relative "../message_answer"

module Transports
  module FileHandoff
    POLL_INTERVAL = 0.001 # seconds, as the harness's poll mode
    # In inotify mode the directory is also listed after this long without
    # an event, and after an event-queue overflow, so nothing is missed.
    RESCAN_SECONDS = 1.0
    REQUEST_PREFIX = "req-"

    # What the row serves: its codec, the extension of its names (.json,
    # .raw, .pb), the pattern of its request names and the most bytes a
    # request file may hold.
    Row = Struct.new(:codec, :echo, :ext, :name, :max_bytes) do
      def self.for(codec, echo)
        ext = MessageAnswer::EXTENSIONS.fetch(codec)
        new(codec, echo, ext, /\Areq-(\d{1,20})#{Regexp.escape(ext)}\z/, MessageAnswer::MAX_BYTES.fetch(codec))
      end

      # A name this row may take: req-*.<ext> (with an id or not).
      def ours?(name)
        name.start_with?(REQUEST_PREFIX) && name.end_with?(ext)
      end
    end

    module_function

    # "DIR" or "DIR?wait=poll" -> [dir, :inotify or :poll]
    def parse_address(address)
      dir, sep, query = address.to_s.partition("?")
      mode = if sep.empty? || query == "wait=inotify" then :inotify
             elsif query == "wait=poll" then :poll
             end
      if mode.nil? || dir.empty?
        raise ArgumentError, "file: --address must be DIR or DIR?wait=poll, got #{address.inspect}"
      end
      raise ArgumentError, "file: #{dir} is not a directory" unless File.directory?(dir)

      [dir, mode]
    end

    def log(message)
      RawFrame.log_line($stderr, message)
    end

    def run(opts)
      dir, mode = parse_address(opts.address)
      row = Row.for(opts.codec || "json", opts.echo)
      wake_r, wake_w = IO.pipe
      %w[TERM INT].each do |sig|
        Signal.trap(sig) { wake_w.write_nonblock(".", exception: false) }
      end
      mode == :poll ? serve_poll(dir, wake_r, opts, row) : serve_inotify(dir, wake_r, opts, row)
      0
    ensure
      [wake_r, wake_w].each { |io| io&.close }
    end

    def serve_poll(dir, wake_r, opts, row)
      opts.ready(opts.address)
      while true
        served = serve_present(dir, row)
        break if IO.select([wake_r], nil, nil, served.positive? ? 0 : POLL_INTERVAL)
      end
    end

    def serve_inotify(dir, wake_r, opts, row)
      require "rb-inotify"
      notifier = INotify::Notifier.new
      names = []
      notifier.watch(dir, :moved_to) { |event| names << event.name }
      opts.ready(opts.address)
      serve_present(dir, row) # what was there before the watch
      io = notifier.to_io
      while true
        ready, = IO.select([io, wake_r], nil, nil, RESCAN_SECONDS)
        if ready.nil?
          serve_present(dir, row)
          next
        end
        break if ready.include?(wake_r)

        begin
          notifier.process
        rescue INotify::QueueOverflowError
          log("inotify queue overflowed; listing the directory")
          names.clear
          serve_present(dir, row)
        end
        names.each { |name| serve_name(dir, name, row) if row.ours?(name) }
        names.clear
      end
    ensure
      notifier&.close
    end

    # Serves every request file of the row's codec in the directory, lowest
    # id first; returns how many were served.
    def serve_present(dir, row)
      names = Dir.children(dir).select { |n| row.ours?(n) }
      names.reject! { |n| stuck?(dir, n) } unless STUCK.empty?
      return 0 if names.empty?

      names.sort_by { |n| [n[/\d+/].to_i, n] }.each { |n| serve_name(dir, n, row) }
      names.size
    end

    # name => inode of request entries that could be neither served nor
    # removed (e.g. a directory named req-1.json): skipped, or a poll loop
    # would spin on them, until a new file takes the name.
    STUCK = {}

    def stuck?(dir, name)
      ino = STUCK[name] or return false
      return true if File.lstat(File.join(dir, name)).ino == ino

      STUCK.delete(name)
      false
    rescue SystemCallError
      STUCK.delete(name)
      false
    end

    def give_up_on(dir, name)
      STUCK[name] = File.lstat(File.join(dir, name)).ino
    rescue SystemCallError
      nil
    end

    # One request file: read, delete, answer, reply (echo: rename it to the
    # reply). Never raises.
    def serve_name(dir, name, row)
      path = File.join(dir, name)
      m = row.name.match(name)
      id_text = m && m[1]
      if id_text.nil? || id_text.to_i > JsonMessage::UINT64_MAX
        remove(dir, name) and log("removed #{name.inspect}: not a req-ID#{row.ext} name")
        return
      end
      return echo_request(dir, path, id_text, row.ext) if row.echo

      data, problem = read_request(path, row.max_bytes)
      return if data.nil? && problem.nil? # gone already (served, or removed)

      remove(dir, name)
      id = id_text.to_i
      body = if problem
               log("bad request (id #{id}): #{problem}")
               MessageAnswer.error(row.codec, id, problem)
             elsif row.codec == "json"
               answer(data, id)
             else
               # The name's id answers what has no id of its own: never nil.
               MessageAnswer.answer(row.codec, data, id)
             end
      write_reply(dir, id_text, body, row.ext)
    rescue StandardError => e # a bug or an I/O error costs one request, never the peer
      log("request #{name.inspect} failed: #{e.class}: #{e.message}")
      give_up_on(dir, name)
    end

    # --echo: the request becomes the reply under its final name in one
    # rename, so the harness sees it appear whole, as it would a reply.
    def echo_request(dir, path, id_text, ext)
      File.rename(path, File.join(dir, "rep-#{id_text}#{ext}"))
    rescue Errno::ENOENT
      nil # gone already
    end

    def answer(data, name_id)
      msg = nil
      msg = JsonMessage.decode(data)
      JsonMessage.answer(msg)
    rescue JsonMessage::MessageError => e
      id = JsonMessage.request_id(msg) || name_id
      log("bad request (id #{id}): #{e.message}")
      JsonMessage.error_reply(id, e.message)
    end

    # [bytes, nil], [nil, why it is refused] or [nil, nil] when the file is
    # gone. Not followed through a symlink, never blocks on a FIFO, never
    # reads more than max_bytes + 1 bytes.
    def read_request(path, max_bytes)
      File.open(path, File::RDONLY | File::NONBLOCK | File::NOFOLLOW | File::BINARY) do |f|
        st = f.stat
        return [nil, "request is not a regular file"] unless st.file?
        return [nil, "request is longer than #{max_bytes} bytes"] if st.size > max_bytes

        # read(n) allocates n bytes up front: ask for what stat saw (+1 to
        # notice a file that grew since), never for the bound itself.
        data = f.read(st.size + 1) || +""
        data << (f.read(max_bytes + 1 - data.bytesize) || "") if data.bytesize > st.size
        return [nil, "request is longer than #{max_bytes} bytes"] if data.bytesize > max_bytes

        [data, nil]
      end
    rescue Errno::ENOENT
      [nil, nil]
    rescue Errno::ELOOP
      [nil, "request is a symbolic link"]
    end

    # true once removed; false if it was gone, or cannot be removed (then it
    # is logged and skipped from now on).
    def remove(dir, name)
      File.unlink(File.join(dir, name))
      true
    rescue Errno::ENOENT
      false
    rescue SystemCallError => e
      log("cannot remove #{name.inspect}: #{e.message}")
      give_up_on(dir, name)
      false
    end

    # Write-to-temporary-then-rename, in the same directory.
    def write_reply(dir, id_text, body, ext)
      tmp = File.join(dir, ".rep-#{id_text}#{ext}.tmp")
      File.open(tmp, File::WRONLY | File::CREAT | File::TRUNC | File::NOFOLLOW | File::BINARY, 0o600) do |f|
        f.write(body)
      end
      File.rename(tmp, File.join(dir, "rep-#{id_text}#{ext}"))
    end
  end
end
