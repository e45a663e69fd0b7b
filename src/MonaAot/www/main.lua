-- The default application of MonaAot: www/main.lua is the root application, run at start-up.
-- Every folder with a main.lua below www/ is a child application that inherits from this one.

-- Called once this file has run without error; path is "" for the root application.
function onStart(path)
  NOTE("MonaAot default application started (", mona:time(), " ms since the epoch)")
end

-- Called every 2 seconds.
function onManage()
  DEBUG("still running")
end

-- Called on shutdown, and before this file is reloaded after an edit.
function onStop(path)
  NOTE("MonaAot default application stopped")
end
