(* Lwt_unix half of the scheduler benchmark (see ../run and ../bench_sched.c).

   Usage: bench_sched CASE [COUNT]
          bench_sched engine      prints the engine in use: libev or select
   Prints exactly one line:  cpu_s=X rss_bytes_per_item=Y ns_per_op=Z
   (0 where a figure does not apply).

   Lwt_unix runs on its libev engine when Lwt was built with it; we ask for
   it explicitly (a default build may pick select) and fall back to the
   default engine if libev is not there.  The driver asks for the engine
   name once and labels the peer lwt_unix or lwt_unix_select accordingly.

   Each case is written the way an ordinary Lwt_unix user would write it. *)

let engine =
  try
    Lwt_engine.set (new Lwt_engine.libev ());
    "libev"
  with _ -> "select"

(* A "VmHWM:" or "VmRSS:" figure of /proc/self/status, in bytes. *)
let status_bytes field =
  let ic = open_in "/proc/self/status" in
  let len = String.length field in
  let rec find () =
    match input_line ic with
    | line when String.length line > len && String.sub line 0 len = field ->
      let rest = String.trim (String.sub line len (String.length line - len)) in
      (* "12345 kB" *)
      Scanf.sscanf rest "%f" (fun kb -> kb *. 1024.)
    | _ -> find ()
    | exception End_of_file -> failwith ("no " ^ field ^ " in /proc/self/status")
  in
  let v = find () in
  close_in ic;
  v

let cpu_seconds () =
  let t = Unix.times () in
  t.Unix.tms_utime +. t.Unix.tms_stime

(* 1. n sleepers with deadlines uniform in [0, 1 s] (fixed seed), joined;
   the loop runs until all have fired.  CPU: user + system of the process
   from just before the first sleeper is created until Lwt_main.run
   returns; memory: peak RSS after the run minus RSS just before. *)
let sleepers n =
  Random.init 42;
  Gc.full_major ();
  let rss0 = status_bytes "VmRSS:" in
  let cpu0 = cpu_seconds () in
  let t0 = Unix.gettimeofday () in
  let all = Lwt.join (List.init n (fun _ -> Lwt_unix.sleep (Random.float 1.0))) in
  Lwt_main.run all;
  let cpu = cpu_seconds () -. cpu0 in
  let peak = status_bytes "VmHWM:" in
  Printf.eprintf "bench_sched.ml: sleepers: %.3f s wall, %.1f ns CPU per sleeper\n"
    (Unix.gettimeofday () -. t0) (cpu *. 1e9 /. float_of_int n);
  cpu, (peak -. rss0) /. float_of_int n

(* 2. n round trips of one byte over a socketpair between two Lwt threads:
   the pinger writes and reads the echo, the ponger reads and writes back.
   Wall time per round trip. *)
let pingpong n =
  let open Lwt.Syntax in
  let a, b = Lwt_unix.socketpair Unix.PF_UNIX Unix.SOCK_STREAM 0 in
  (* Reads offer a buffer larger than the one-byte message, as on the C side. *)
  let ping_buf = Bytes.create 64 and pong_buf = Bytes.create 64 in
  let rec pinger i =
    if i = n then Lwt.return_unit
    else begin
      Bytes.set ping_buf 0 (Char.chr (i land 255));
      let* w = Lwt_unix.write a ping_buf 0 1 in
      if w <> 1 then failwith "pinger: short write";
      let* r = Lwt_unix.read a ping_buf 0 64 in
      if r <> 1 || Bytes.get ping_buf 0 <> Char.chr (i land 255) then
        failwith "pinger: bad echo";
      pinger (i + 1)
    end
  in
  let rec ponger i =
    if i = n then Lwt.return_unit
    else
      let* r = Lwt_unix.read b pong_buf 0 64 in
      if r <> 1 then failwith "ponger: short read";
      let* w = Lwt_unix.write b pong_buf 0 1 in
      if w <> 1 then failwith "ponger: short write";
      ponger (i + 1)
  in
  let t0 = Unix.gettimeofday () in
  Lwt_main.run (Lwt.join [ponger 0; pinger 0]);
  let ns = (Unix.gettimeofday () -. t0) *. 1e9 /. float_of_int n in
  Lwt_main.run (Lwt.join [Lwt_unix.close a; Lwt_unix.close b]);
  ns

let () =
  let usage () =
    prerr_endline "usage: bench_sched {sleepers|pingpong} [COUNT] | bench_sched engine";
    exit 2
  in
  if Array.length Sys.argv < 2 then usage ();
  let case = Sys.argv.(1) in
  if case = "engine" then (print_endline engine; exit 0);
  let default = if case = "sleepers" then 1_000_000 else 100_000 in
  let n =
    if Array.length Sys.argv > 2 then
      match int_of_string_opt Sys.argv.(2) with
      | Some n when n > 0 -> n
      | _ -> usage ()
    else default
  in
  let cpu, bytes, ns =
    match case with
    | "sleepers" -> let cpu, bytes = sleepers n in cpu, bytes, 0.
    | "pingpong" -> 0., 0., pingpong n
    | _ -> usage ()
  in
  Printf.printf "cpu_s=%.4f rss_bytes_per_item=%.2f ns_per_op=%.2f\n" cpu bytes ns
