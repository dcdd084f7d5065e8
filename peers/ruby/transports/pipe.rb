# frozen_string_literal: true

# Frames on stdin/stdout (--address -). Serves until EOF on stdin between
# frames (exit 0); a stream that must be closed for bad input (bad magic or
# version, payload_len too big: after the error reply; EOF inside a frame)
# ends the peer with exit 3.

require_relative "../raw_frame"

module Transports
  module Pipe
    module_function

    def run(opts)
      unless opts.address.nil? || opts.address == "-"
        raise ArgumentError, "pipe: --address must be - (frames on stdin/stdout)"
      end

      input = $stdin
      output = opts.stdout # the real stdout; $stdout itself points at stderr
      input.binmode
      output.binmode
      output.sync = true
      opts.ready("-")
      status = begin
        RawFrame.serve(input, output, echo: opts.echo)
      rescue Errno::EPIPE, Errno::ECONNRESET => e
        RawFrame.log_line($stderr, "pipe closed by the other side: #{e.class}")
        return 1
      end
      status == :eof ? 0 : 3
    end
  end
end
