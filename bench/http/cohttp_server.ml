(* The cohttp-lwt-unix side of bench/http/run: a static file server as a
   MirageOS user would write it on Unix with cohttp 4 (Debian's
   libcohttp-lwt-unix-ocaml-dev).

     cohttp_server DIR PORT

   Reads every regular file directly in DIR into memory at start, then
   serves GET and HEAD of /NAME from memory with Content-Type
   application/octet-stream (404 for anything else) on 127.0.0.1:PORT.
   Keep-alive is whatever cohttp does (HTTP/1.1 keeps the connection unless
   the request says Connection: close). Prints "serving on 127.0.0.1:PORT"
   on stderr once it listens; runs until killed. *)

let read_file path =
  let ic = open_in_bin path in
  Fun.protect
    ~finally:(fun () -> close_in ic)
    (fun () -> really_input_string ic (in_channel_length ic))

let load_dir dir =
  let files = Hashtbl.create 16 in
  Array.iter
    (fun name ->
      let path = Filename.concat dir name in
      if (Unix.stat path).Unix.st_kind = Unix.S_REG then
        Hashtbl.replace files ("/" ^ name) (read_file path))
    (Sys.readdir dir);
  files

let () =
  let dir, port =
    match Sys.argv with
    | [| _; dir; port |] -> (dir, int_of_string port)
    | _ ->
        prerr_endline "usage: cohttp_server DIR PORT";
        exit 2
  in
  (* A client that goes away mid-response must not end the server. *)
  Sys.set_signal Sys.sigpipe Sys.Signal_ignore;
  let files = load_dir dir in
  let headers =
    Cohttp.Header.of_list [ ("content-type", "application/octet-stream") ]
  in
  let open Cohttp_lwt_unix in
  let callback _conn req _body =
    let path = Uri.path (Request.uri req) in
    match (Request.meth req, Hashtbl.find_opt files path) with
    | (`GET | `HEAD), Some data ->
        Server.respond_string ~headers ~status:`OK ~body:data ()
    | _ -> Server.respond_string ~status:`Not_found ~body:"not found\n" ()
  in
  (* Our own listening socket, so that it is bound to loopback only (with
     `Port conduit binds every interface) and has a backlog that 256
     connecting clients do not overflow. *)
  let fd = Lwt_unix.socket Unix.PF_INET Unix.SOCK_STREAM 0 in
  Lwt_unix.setsockopt fd Unix.SO_REUSEADDR true;
  Lwt_main.run
    (let open Lwt.Syntax in
     let* () =
       Lwt_unix.bind fd (Unix.ADDR_INET (Unix.inet_addr_loopback, port))
     in
     Lwt_unix.listen fd 1024;
     Printf.eprintf "serving on 127.0.0.1:%d\n%!" port;
     Server.create ~mode:(`TCP (`Socket fd)) (Server.make ~callback ()))
