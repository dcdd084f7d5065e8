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
# SIGTERM/SIGINT wake the loop through a self-pipe: exit 0 between requests.

require_relative "../json_message"

module Transports
  module FileHandoff
    POLL_INTERVAL = 0.001 # seconds, as the harness's poll mode
    # In inotify mode the directory is also listed after this long without
    # an event, and after an event-queue overflow, so nothing is missed.
    RESCAN_SECONDS = 1.0
    REQUEST_PREFIX = "req-"
    REQUEST_NAME = /\Areq-(\d{1,20})\.json\z/.freeze
    MAX_BYTES = JsonMessage::MAX_JSON_BYTES

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
      wake_r, wake_w = IO.pipe
      %w[TERM INT].each do |sig|
        Signal.trap(sig) { wake_w.write_nonblock(".", exception: false) }
      end
      mode == :poll ? serve_poll(dir, wake_r, opts) : serve_inotify(dir, wake_r, opts)
      0
    ensure
      [wake_r, wake_w].each { |io| io&.close }
    end

    def serve_poll(dir, wake_r, opts)
      echo = opts.echo
      opts.ready(opts.address)
      while true
        served = serve_present(dir, echo)
        break if IO.select([wake_r], nil, nil, served.positive? ? 0 : POLL_INTERVAL)
      end
    end

    def serve_inotify(dir, wake_r, opts)
      require "rb-inotify"
      notifier = INotify::Notifier.new
      echo = opts.echo
      names = []
      notifier.watch(dir, :moved_to) { |event| names << event.name }
      opts.ready(opts.address)
      serve_present(dir, echo) # what was there before the watch
      io = notifier.to_io
      while true
        ready, = IO.select([io, wake_r], nil, nil, RESCAN_SECONDS)
        if ready.nil?
          serve_present(dir, echo)
          next
        end
        break if ready.include?(wake_r)

        begin
          notifier.process
        rescue INotify::QueueOverflowError
          log("inotify queue overflowed; listing the directory")
          names.clear
          serve_present(dir, echo)
        end
        names.each { |name| serve_name(dir, name, echo) if name.start_with?(REQUEST_PREFIX) }
        names.clear
      end
    ensure
      notifier&.close
    end

    # Serves every request file in the directory, lowest id first; returns
    # how many were served.
    def serve_present(dir, echo)
      names = Dir.children(dir).select { |n| n.start_with?(REQUEST_PREFIX) }
      names.reject! { |n| stuck?(dir, n) } unless STUCK.empty?
      return 0 if names.empty?

      names.sort_by { |n| [n[/\d+/].to_i, n] }.each { |n| serve_name(dir, n, echo) }
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
    def serve_name(dir, name, echo)
      path = File.join(dir, name)
      m = REQUEST_NAME.match(name)
      id_text = m && m[1]
      if id_text.nil? || id_text.to_i > JsonMessage::UINT64_MAX
        remove(dir, name) and log("removed #{name.inspect}: not a req-ID.json name")
        return
      end
      return echo_request(dir, path, id_text) if echo

      data, problem = read_request(path)
      return if data.nil? && problem.nil? # gone already (served, or removed)

      remove(dir, name)
      body = problem ? JsonMessage.error_reply(id_text.to_i, problem) : answer(data, id_text.to_i)
      write_reply(dir, id_text, body)
    rescue StandardError => e # a bug or an I/O error costs one request, never the peer
      log("request #{name.inspect} failed: #{e.class}: #{e.message}")
      give_up_on(dir, name)
    end

    # --echo: the request becomes the reply under its final name in one
    # rename, so the harness sees it appear whole, as it would a reply.
    def echo_request(dir, path, id_text)
      File.rename(path, File.join(dir, "rep-#{id_text}.json"))
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
    # reads more than MAX_BYTES + 1 bytes.
    def read_request(path)
      File.open(path, File::RDONLY | File::NONBLOCK | File::NOFOLLOW | File::BINARY) do |f|
        st = f.stat
        return [nil, "request is not a regular file"] unless st.file?
        return [nil, "request is longer than #{MAX_BYTES} bytes"] if st.size > MAX_BYTES

        # read(n) allocates n bytes up front: ask for what stat saw (+1 to
        # notice a file that grew since), never for the 4 MiB bound itself.
        data = f.read(st.size + 1) || +""
        data << (f.read(MAX_BYTES + 1 - data.bytesize) || "") if data.bytesize > st.size
        return [nil, "request is longer than #{MAX_BYTES} bytes"] if data.bytesize > MAX_BYTES

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
    def write_reply(dir, id_text, body)
      tmp = File.join(dir, ".rep-#{id_text}.json.tmp")
      File.open(tmp, File::WRONLY | File::CREAT | File::TRUNC | File::NOFOLLOW | File::BINARY, 0o600) do |f|
        f.write(body)
      end
      File.rename(tmp, File.join(dir, "rep-#{id_text}.json"))
    end
  end
end
