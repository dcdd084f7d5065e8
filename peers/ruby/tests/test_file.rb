# frozen_string_literal: true

require "minitest/autorun"
require "json"
require "rb-inotify"
require_relative "support"
require_relative "../workload"

# The real peer, --transport=file, in both wake-up modes (inotify and
# DIR?wait=poll), on a private directory (0700) made by the test. The test
# watches the directory itself to check that the peer only ever creates its
# dot-temporaries: a req-/rep- name appears only by rename, complete.
module FilePeerTests
  include PeerTestSupport
  include CodecVectors
  RAMP_256_HEX = "3fe376dba491b1ac"

  def setup
    @dir = Dir.mktmpdir("ruby-peer-file-")
    File.chmod(0o700, @dir)
    @created = []
    @moved_in = []
    @notifier = INotify::Notifier.new
    @notifier.watch(@dir, :create, :moved_to) do |ev|
      (ev.flags.include?(:create) ? @created : @moved_in) << ev.name
    end
  end

  def teardown
    @peer&.cleanup
    @notifier&.close
    FileUtils.remove_entry(@dir) if @dir && File.directory?(@dir)
  end

  def start(*flags)
    @peer = PeerProcess.new(["--transport=file", "--address=#{address}", *flags])
    assert_equal address, @peer.address
  end

  # Write-to-temporary-then-rename, as the harness does; returns the file's
  # inode.
  def put(name, content)
    tmp = File.join(@dir, ".#{name}.tmp")
    File.binwrite(tmp, content)
    ino = File.stat(tmp).ino
    File.rename(tmp, File.join(@dir, name))
    ino
  end

  def request(id, msg)
    put("req-#{id}.json", JSON.generate(msg))
  end

  def drain_events
    @notifier.process while IO.select([@notifier.to_io], nil, nil, 0)
  end

  # The reply to request `id` (read and removed), waiting with a timeout.
  def reply(id)
    path = File.join(@dir, "rep-#{id}.json")
    wait_until("#{File.basename(path)}", interval: 0.001) { File.exist?(path) }
    data = File.read(path)
    File.unlink(path)
    JSON.parse(data)
  end

  def call(id, msg)
    request(id, msg)
    reply(id)
  end

  def test_round_trips_garbage_and_no_visible_temporaries
    request(1, { "id" => 1, "op" => "add", "x" => MAX64, "y" => 1 }) # there before the peer starts
    start
    assert_equal({ "id" => 1, "result" => MIN64 }, reply(1))
    r = call(2, { "id" => 2, "op" => "score", "features" => Workload.ramp_features(256), "model" => "modèle-ü" })
    assert_equal [2, RAMP_256_HEX, "fraud"], [r["id"], [r["score"]].pack("G").unpack1("H*"), r["label"]]

    put("req-3.json", "garbage {")
    r = reply(3)
    assert_equal 3, r["id"]
    assert_kind_of String, r["error"]
    r = call(4, { "id" => 4, "op" => "add", "x" => "a", "y" => 1 })
    assert_equal [4, String], [r["id"], r["error"].class]
    put("req-oops.json", "{}") # no id in the name: removed and logged
    assert_equal({ "id" => 5, "result" => 3 }, call(5, { "id" => 5, "op" => "add", "x" => 1, "y" => 2 }))
    wait_until("req-oops.json removed") { !File.exist?(File.join(@dir, "req-oops.json")) }
    20.times { |i| assert_equal({ "id" => 10 + i, "result" => 2 * i }, call(10 + i, { "id" => 10 + i, "op" => "add", "x" => i, "y" => i })) }

    assert @peer.alive?
    assert_empty Dir.children(@dir), "left behind in the directory"
    drain_events
    refute_empty @moved_in
    bad = @created.reject { |n| n.start_with?(".req-") || n.match?(/\A\.rep-\d+\.json\.tmp\z/) }
    assert_empty bad, "files created under a final name (not renamed into place)"
    assert(@moved_in.all? { |n| n.match?(/\A(req|rep)-\w+\.json\z/) })
  end

  # --echo: req-ID.json becomes rep-ID.json by a rename (the same inode,
  # the same bytes), whatever it holds; the peer creates no file.
  def test_echo_renames_each_request_to_its_reply
    add = %({"id":1,"x":#{MAX64},"y":1})
    ino = put("req-1.json", add) # there before the peer starts
    start("--echo")
    requests = { 1 => [add, ino] }
    score = JSON.generate({ "id" => 2, "features" => Workload.ramp_features(256), "model" => "modèle-ü" })
    requests[2] = [score, put("req-2.json", score)]
    requests[3] = ["garbage {\xFF".b, put("req-3.json", "garbage {\xFF".b)]
    put("req-oops.json", "{}") # no id in the name: removed and logged, as in the row
    requests.each do |id, (content, inode)|
      path = File.join(@dir, "rep-#{id}.json")
      wait_until("rep-#{id}.json", interval: 0.001) { File.exist?(path) }
      assert_equal content.b, File.binread(path)
      assert_equal inode, File.stat(path).ino
      File.unlink(path)
    end
    wait_until("req-oops.json removed") { !File.exist?(File.join(@dir, "req-oops.json")) }
    assert @peer.alive?
    assert_empty Dir.children(@dir), "left behind in the directory"
    drain_events
    assert_empty @created.reject { |n| n.start_with?(".req-") }, "the peer created files"
  end

  # ------------------------------------------------ --codec=raw, protobuf

  # The reply file rep-ID.<ext> (read and removed) as bytes.
  def reply_bytes(id, ext)
    path = File.join(@dir, "rep-#{id}#{ext}")
    wait_until(File.basename(path).to_s, interval: 0.001) { File.exist?(path) }
    data = File.binread(path)
    File.unlink(path)
    data
  end

  # req-ID.raw / req-ID.pb (json_transports.md, "Other codecs on Redis and
  # files"): every codecs vector (a batch among them) answered in rep-ID.<ext>
  # bit for bit as the C++ peer answers it; a file that cannot be read as
  # its codec gets that codec's error reply with the id of its name; another
  # codec's files are not touched; temporaries only under dot-names.
  def check_codec(codec, ext)
    form = codec == "raw" ? "raw" : "protobuf"
    other = ext == ".raw" ? "req-900.pb" : "req-900.raw"
    put(other, "not ours")
    put("req-901.json", "{}")
    start("--codec=#{codec}")
    codec_vectors.each do |v|
      put("req-#{v['request']['id']}#{ext}", form_bytes(v, form))
      assert_codec_bytes(v, "reply_#{form}", reply_bytes(v["request"]["id"], ext))
    end
    put("req-5#{ext}", "garbage")
    got = reply_bytes(5, ext)
    if codec == "raw"
      kind, id, = split_frames(got).first
      assert_equal [R::KIND_ERROR, 5], [kind, id]
      # A frame with its own header id is answered with it, in rep-<name id>.
      put("req-6.raw", R.encode_header(R::KIND_ADD_REQUEST, 66, 8) + "\0" * 8)
      assert_equal [R::KIND_ERROR, 66], split_frames(reply_bytes(6, ext)).first[0, 2]
      put("req-7.raw", form_bytes(codec_vectors[2], "json_framed")) # a JSON frame, answered as on a stream
      kind, id, payload = split_frames(reply_bytes(7, ext)).first
      assert_equal [R::KIND_JSON_REPLY, 8], [kind, id]
      assert_json_reply(codec_vectors[2], payload)
    else
      reply = pb::Reply.decode(got)
      assert_equal [5, :error], [reply.id, reply.result]
      put("req-6.pb", pb::Request.encode(pb::Request.new(score: { id: 66, model: "m" * 1025 })))
      reply = pb::Reply.decode(reply_bytes(6, ext))
      assert_equal [66, :error], [reply.id, reply.result]
      put("req-7.pb", "") # no call: the name's id
      reply = pb::Reply.decode(reply_bytes(7, ext))
      assert_equal [7, :error], [reply.id, reply.result]
    end
    put("req-oops#{ext}", "x") # no id in the name: removed and logged
    wait_until("req-oops#{ext} removed") { !File.exist?(File.join(@dir, "req-oops#{ext}")) }
    put("req-8#{ext}", codec == "raw" ? R.encode_add_request(8, 2, 3) : pb::Request.encode(pb::Request.new(add: { id: 8, x: 2, y: 3 })))
    got = reply_bytes(8, ext)
    assert_equal 5, codec == "raw" ? R.parse_add_reply(split_frames(got).first[2]) : pb::Reply.decode(got).add.result
    assert @peer.alive?
    assert_equal [other, "req-901.json"].sort, Dir.children(@dir).sort, "another codec's files must be left alone"
    drain_events
    bad = @created.reject { |n| n.start_with?(".req-") || n.match?(/\A\.rep-\d+#{Regexp.escape(ext)}\.tmp\z/) }
    assert_empty bad, "files created under a final name (not renamed into place)"
  end

  def test_codec_raw
    check_codec("raw", ".raw")
  end

  def test_codec_protobuf
    check_codec("protobuf", ".pb")
  end

  # A file over its codec's bound is refused unread: the codec's error reply.
  def test_codec_files_over_their_bound
    start("--codec=protobuf")
    File.open(File.join(@dir, ".req-3.pb.tmp"), "wb") { |f| f.truncate(R::MAX_BATCH_PAYLOAD + 1) }
    File.rename(File.join(@dir, ".req-3.pb.tmp"), File.join(@dir, "req-3.pb"))
    reply = pb::Reply.decode(reply_bytes(3, ".pb"))
    assert_equal [3, :error], [reply.id, reply.result]
    assert_includes reply.error, R::MAX_BATCH_PAYLOAD.to_s
    assert_empty Dir.children(@dir)
  end

  # --echo: req-ID.<ext> renamed to rep-ID.<ext>, whatever it holds.
  def test_codec_echo
    start("--codec=raw", "--echo")
    frame = R.encode_add_request(1, 2, 3)
    ino = put("req-1.raw", frame)
    put("req-2.pb", "not ours")
    path = File.join(@dir, "rep-1.raw")
    wait_until("rep-1.raw", interval: 0.001) { File.exist?(path) }
    assert_equal [frame, ino], [File.binread(path), File.stat(path).ino]
    File.unlink(path)
    assert_equal ["req-2.pb"], Dir.children(@dir)
  end

  def test_term_exits_0
    start
    assert_equal({ "id" => 1, "result" => 3 }, call(1, { "id" => 1, "op" => "add", "x" => 1, "y" => 2 }))
    assert_exits_0_on_term
  end
end

class TestPeerFileInotify < Minitest::Test
  include FilePeerTests

  def address
    @dir
  end
end

class TestPeerFilePoll < Minitest::Test
  include FilePeerTests

  def address
    "#{@dir}?wait=poll"
  end
end
